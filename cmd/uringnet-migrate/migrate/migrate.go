// Package migrate is the analyzer behind uringnet-migrate: it rewrites a gnet v2 program so that
// it runs on uringnet with the same behaviour, where changing gnet.Run to uringnet.Run is not
// enough because gnet's types cannot be made outside gnet.
//
// In each file that imports gnet it rewrites:
//   - gnet.Run, gnet.Rotate, gnet.NewClient and gnet.Stop to uringnet's;
//   - the types gnet.Client and gnet.Engine (in fields, variables, parameters, results,
//     composite types) to uringnet.Client and uringnet.Engine; uringnet.Engine has gnet.Engine's
//     methods, and uringnet.NewClient returns *uringnet.Client;
//   - an OnBoot or OnShutdown that uses its gnet.Engine: on uringnet that is gnet.Engine{}, so
//     the parameter is renamed and the engine the handler runs on takes its old name, as the
//     method's first statement (uringnet.BootEngine, which under gnet's own engine, the fallback,
//     is the parameter itself). Everything the method does with it (keep it in a field or a
//     variable, capture it in a closure, stop it on a signal) then works.
//
// What it cannot rewrite it reports, with what to do: a gnet.Engine handed to another package
// that wants one. A file it has rewritten, or that needs nothing, it leaves as it is: running it
// twice changes nothing.
package migrate

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
)

const (
	gnetPath     = "github.com/panjf2000/gnet/v2"
	uringnetPath = "github.com/uringnet/uringnet"
)

// Analyzer reports, and with -fix rewrites, what a gnet program needs to run on uringnet.
var Analyzer = &analysis.Analyzer{
	Name: "uringnetmigrate",
	Doc: "rewrite a gnet v2 program to run on uringnet\n\n" +
		"gnet.Run, Rotate, NewClient and Stop become uringnet's; gnet.Client and gnet.Engine types " +
		"become uringnet's; an OnBoot or OnShutdown that uses its gnet.Engine keeps the engine it " +
		"runs on (uringnet.BootEngine) instead. What cannot be rewritten is reported.",
	URL: "https://github.com/uringnet/uringnet#moving-a-gnet-program",
	Run: run,
}

func run(pass *analysis.Pass) (any, error) {
	for _, f := range pass.Files {
		if m := newFileMigration(pass, f); m != nil {
			m.scan()
			m.report()
		}
	}
	return nil, nil
}

// renamed are gnet's functions that become uringnet's of the same name.
var renamed = map[string]bool{"Run": true, "Rotate": true, "NewClient": true, "Stop": true}

// retyped are gnet's types that become uringnet's of the same name.
var retyped = map[string]bool{"Client": true, "Engine": true}

// fileMigration is the rewrite of one file.
type fileMigration struct {
	pass         *analysis.Pass
	file         *ast.File
	gnetName     string // the name the file imports gnet as
	gnetImport   *ast.ImportSpec
	uringnetName string // the name uringnet goes by in the file ("" until it is imported)
	// importUringnet: the rewrite uses uringnet, which the file does not import yet.
	importUringnet bool
	edits          []analysis.TextEdit
	changes        []change          // what the edits do, for the report
	keep           map[ast.Expr]bool // gnet.Engine types that stay (OnBoot's and OnShutdown's parameters)
	gnetLeft       int               // references to gnet that stay, after the rewrite
}

// change is one rewrite, for the report.
type change struct {
	pos token.Pos
	msg string
}

func newFileMigration(pass *analysis.Pass, f *ast.File) *fileMigration {
	m := &fileMigration{pass: pass, file: f, keep: map[ast.Expr]bool{}}
	for _, spec := range f.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		switch path {
		case gnetPath:
			m.gnetImport, m.gnetName = spec, "gnet"
		case uringnetPath:
			m.uringnetName = "uringnet"
			if spec.Name != nil {
				m.uringnetName = spec.Name.Name
			}
		}
	}
	if m.gnetImport == nil {
		return nil
	}
	if m.gnetImport.Name != nil {
		m.gnetName = m.gnetImport.Name.Name
	}
	if m.gnetName == "_" || m.gnetName == "." {
		return nil
	}
	return m
}

// uringnet is the name uringnet goes by in the file, importing it (see imports) if needed.
func (m *fileMigration) uringnet() string {
	if m.uringnetName == "" {
		m.uringnetName, m.importUringnet = "uringnet", true
	}
	return m.uringnetName
}

// imports imports uringnet where the rewrite needs it, and drops the gnet import when nothing
// uses it any more (in its place, when both happen).
func (m *fileMigration) imports() {
	switch {
	case m.gnetLeft == 0 && m.importUringnet:
		m.edits = append(m.edits, analysis.TextEdit{Pos: m.gnetImport.Pos(), End: m.gnetImport.End(), NewText: fmt.Appendf(nil, "%q", uringnetPath)})
	case m.gnetLeft == 0:
		m.dropGnetImport()
	case m.importUringnet:
		m.addImport()
	}
}

// scan finds every rewrite the file needs.
func (m *fileMigration) scan() {
	for _, decl := range m.file.Decls {
		if fd, ok := decl.(*ast.FuncDecl); ok && isEngineCallback(m.pass.TypesInfo, fd) {
			m.keep[fd.Type.Params.List[0].Type] = true
			m.bootEngine(fd)
		}
	}
	ast.Inspect(m.file, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		pkg, ok := sel.X.(*ast.Ident)
		if !ok || !m.isGnet(pkg) {
			return true
		}
		name := sel.Sel.Name
		switch m.pass.TypesInfo.Uses[sel.Sel].(type) {
		case *types.Func:
			if renamed[name] {
				m.replace(pkg, m.uringnet(), fmt.Sprintf("gnet.%s becomes uringnet.%s", name, name), pkg.Pos())
				return false
			}
		case *types.TypeName:
			if retyped[name] && !m.keep[sel] {
				m.replace(pkg, m.uringnet(), fmt.Sprintf("gnet.%s becomes uringnet.%s", name, name), pkg.Pos())
				return false
			}
		case nil:
			return true
		}
		m.gnetLeft++
		return true
	})
	if len(m.edits) > 0 {
		m.imports()
	}
}

// isGnet reports whether id names the gnet package in this file.
func (m *fileMigration) isGnet(id *ast.Ident) bool {
	pn, ok := m.pass.TypesInfo.Uses[id].(*types.PkgName)
	return ok && pn.Imported().Path() == gnetPath
}

// isEngineCallback reports whether fd is a handler's OnBoot or OnShutdown: a method of that
// name whose one parameter is a gnet.Engine.
func isEngineCallback(info *types.Info, fd *ast.FuncDecl) bool {
	if fd.Recv == nil || (fd.Name.Name != "OnBoot" && fd.Name.Name != "OnShutdown") {
		return false
	}
	params := fd.Type.Params.List
	if len(params) != 1 || len(params[0].Names) > 1 {
		return false
	}
	return isGnetType(info.TypeOf(params[0].Type), "Engine")
}

// isGnetType reports whether t is gnet's type name.
func isGnetType(t types.Type, name string) bool {
	n, ok := t.(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == gnetPath && n.Obj().Name() == name
}

// bootEngine rewrites an OnBoot or OnShutdown that uses its gnet.Engine: the parameter is
// renamed, and the engine the handler runs on takes its old name as the first statement.
func (m *fileMigration) bootEngine(fd *ast.FuncDecl) {
	info := m.pass.TypesInfo
	field := fd.Type.Params.List[0]
	if len(field.Names) == 0 || field.Names[0].Name == "_" || fd.Body == nil {
		return
	}
	param := field.Names[0]
	obj := info.Defs[param]
	uses := usesOf(info, fd.Body, obj)
	if len(uses) == 0 || alreadyBooted(info, fd.Body) {
		return
	}
	for _, use := range uses {
		if callee, ok := foreignEngineArg(info, m.ownPackage, fd.Body, use); ok {
			m.pass.Reportf(use.Pos(), "uringnet-migrate: %s's engine is passed to %s, which wants a gnet.Engine: on uringnet that is "+
				"gnet.Engine{}, whose methods do nothing, and this is not rewritten; make %s take a uringnet.Engine and pass it "+
				"uringnet.BootEngine(handler, engine), or keep this program on gnet.Run", fd.Name.Name, callee, callee)
			return
		}
	}
	recv := m.receiverName(fd)
	handler := recv
	if !implementsHandler(info, fd) {
		handler = "&" + recv
	}
	fresh := freshName(fd, "gnetEngine")
	m.edits = append(m.edits,
		analysis.TextEdit{Pos: param.Pos(), End: param.End(), NewText: []byte(fresh)},
		analysis.TextEdit{Pos: fd.Body.Lbrace + 1, End: fd.Body.Lbrace + 1,
			NewText: fmt.Appendf(nil, "\n\t%s := %s.BootEngine(%s, %s)", param.Name, m.uringnet(), handler, fresh)})
	m.changes = append(m.changes, change{fd.Name.Pos(), fmt.Sprintf("%s keeps the engine it runs on: on uringnet its gnet.Engine is gnet.Engine{}", fd.Name.Name)})
}

// usesOf returns the identifiers in body that refer to obj.
func usesOf(info *types.Info, body *ast.BlockStmt, obj types.Object) []*ast.Ident {
	var uses []*ast.Ident
	ast.Inspect(body, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && info.Uses[id] == obj {
			uses = append(uses, id)
		}
		return true
	})
	return uses
}

// alreadyBooted reports whether body starts as uringnet-migrate leaves it: x := uringnet.BootEngine(…).
func alreadyBooted(info *types.Info, body *ast.BlockStmt) bool {
	if len(body.List) == 0 {
		return false
	}
	as, ok := body.List[0].(*ast.AssignStmt)
	if !ok || as.Tok != token.DEFINE || len(as.Rhs) != 1 {
		return false
	}
	call, ok := as.Rhs[0].(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "BootEngine" {
		return false
	}
	fn, ok := info.Uses[sel.Sel].(*types.Func)
	return ok && fn.Pkg() != nil && fn.Pkg().Path() == uringnetPath
}

// foreignEngineArg reports whether use is an argument of a call to a function of a package the
// rewrite does not reach (not own) whose parameter there is a gnet.Engine, and names it.
func foreignEngineArg(info *types.Info, own func(*types.Package) bool, body *ast.BlockStmt, use *ast.Ident) (string, bool) {
	var name string
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || found {
			return !found
		}
		i := slices.IndexFunc(call.Args, func(a ast.Expr) bool { return a == use })
		if i < 0 {
			return true
		}
		sig, ok := info.TypeOf(call.Fun).(*types.Signature)
		if !ok {
			return true
		}
		var param types.Type
		switch {
		case sig.Variadic() && i >= sig.Params().Len()-1:
			param = sig.Params().At(sig.Params().Len() - 1).Type().(*types.Slice).Elem()
		case i < sig.Params().Len():
			param = sig.Params().At(i).Type()
		}
		callee := typeutilCallee(info, call)
		if isGnetType(param, "Engine") && callee != nil && !own(callee.Pkg()) {
			name, found = callee.FullName(), true
		}
		return !found
	})
	return name, found
}

// ownPackage reports whether p is rewritten along with the package analysed: it is that package,
// or another of its module (which the command, run over the module, rewrites too).
func (m *fileMigration) ownPackage(p *types.Package) bool {
	if p == nil || p == m.pass.Pkg {
		return true
	}
	mod := m.pass.Module
	return mod != nil && mod.Path != "" && (p.Path() == mod.Path || strings.HasPrefix(p.Path(), mod.Path+"/"))
}

// typeutilCallee is the function or method a call calls, if it names one.
func typeutilCallee(info *types.Info, call *ast.CallExpr) *types.Func {
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		f, _ := info.Uses[fun].(*types.Func)
		return f
	case *ast.SelectorExpr:
		f, _ := info.Uses[fun.Sel].(*types.Func)
		return f
	}
	return nil
}

// receiverName is the method's receiver's name, naming it when it has none.
func (m *fileMigration) receiverName(fd *ast.FuncDecl) string {
	recv := fd.Recv.List[0]
	if len(recv.Names) > 0 && recv.Names[0].Name != "_" {
		return recv.Names[0].Name
	}
	name := freshName(fd, "handler")
	if len(recv.Names) > 0 {
		m.edits = append(m.edits, analysis.TextEdit{Pos: recv.Names[0].Pos(), End: recv.Names[0].End(), NewText: []byte(name)})
	} else {
		m.edits = append(m.edits, analysis.TextEdit{Pos: recv.Type.Pos(), End: recv.Type.Pos(), NewText: []byte(name + " ")})
	}
	return name
}

// implementsHandler reports whether the method's receiver type, as declared, is a
// gnet.EventHandler (else its address is).
func implementsHandler(info *types.Info, fd *ast.FuncDecl) bool {
	recvType := info.TypeOf(fd.Recv.List[0].Type)
	handler := gnetHandler(info)
	return handler != nil && recvType != nil && types.Implements(recvType, handler)
}

// gnetHandler is gnet.EventHandler, from the package's imports.
func gnetHandler(info *types.Info) *types.Interface {
	for _, obj := range info.Uses {
		if pn, ok := obj.(*types.PkgName); ok && pn.Imported().Path() == gnetPath {
			if tn, ok := pn.Imported().Scope().Lookup("EventHandler").(*types.TypeName); ok {
				iface, _ := tn.Type().Underlying().(*types.Interface)
				return iface
			}
		}
	}
	return nil
}

// freshName is base, or base with a number, that nothing in fd's scope already names.
func freshName(fd *ast.FuncDecl, base string) string {
	taken := map[string]bool{}
	ast.Inspect(fd, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			taken[id.Name] = true
		}
		return true
	})
	name := base
	for i := 2; taken[name]; i++ {
		name = base + strconv.Itoa(i)
	}
	return name
}

// replace rewrites the identifier id (gnet's package name, in a selector) to name.
func (m *fileMigration) replace(id *ast.Ident, name, msg string, pos token.Pos) {
	m.edits = append(m.edits, analysis.TextEdit{Pos: id.Pos(), End: id.End(), NewText: []byte(name)})
	m.changes = append(m.changes, change{pos, msg})
}

// addImport imports uringnet in gnet's group of imports, in order.
func (m *fileMigration) addImport() {
	spec := fmt.Sprintf("%q", uringnetPath)
	decl := m.importDecl()
	if !decl.Lparen.IsValid() { // import "gnet" alone: it becomes a group of two
		m.edits = append(m.edits, analysis.TextEdit{Pos: m.gnetImport.Pos(), End: m.gnetImport.End(),
			NewText: fmt.Appendf(nil, "(\n\t%s\n\t%s\n)", m.source(m.gnetImport), spec)})
		return
	}
	// gnet's group: the specs on consecutive lines around it.
	i := slices.IndexFunc(decl.Specs, func(s ast.Spec) bool { return s == m.gnetImport })
	first, last := i, i
	for first > 0 && m.line(decl.Specs[first-1].End())+1 >= m.line(decl.Specs[first].Pos()) {
		first--
	}
	for last < len(decl.Specs)-1 && m.line(decl.Specs[last].End())+1 >= m.line(decl.Specs[last+1].Pos()) {
		last++
	}
	for _, s := range decl.Specs[first : last+1] {
		if path, _ := strconv.Unquote(s.(*ast.ImportSpec).Path.Value); path > uringnetPath {
			at := m.lineStart(s.Pos())
			m.edits = append(m.edits, analysis.TextEdit{Pos: at, End: at, NewText: []byte("\t" + spec + "\n")})
			return
		}
	}
	end := decl.Specs[last].End()
	m.edits = append(m.edits, analysis.TextEdit{Pos: end, End: end, NewText: []byte("\n\t" + spec)})
}

// dropGnetImport removes the gnet import, which nothing uses once rewritten.
func (m *fileMigration) dropGnetImport() {
	if decl := m.importDecl(); !decl.Lparen.IsValid() {
		m.edits = append(m.edits, analysis.TextEdit{Pos: decl.Pos(), End: decl.End()})
		return
	}
	start := m.lineStart(m.gnetImport.Pos())
	m.edits = append(m.edits, analysis.TextEdit{Pos: start, End: m.gnetImport.End() + 1})
}

func (m *fileMigration) importDecl() *ast.GenDecl {
	for _, d := range m.file.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT && slices.ContainsFunc(gd.Specs, func(s ast.Spec) bool { return s == m.gnetImport }) {
			return gd
		}
	}
	return nil
}

func (m *fileMigration) line(p token.Pos) int { return m.pass.Fset.Position(p).Line }

// lineStart is the position of the start of p's line.
func (m *fileMigration) lineStart(p token.Pos) token.Pos {
	tf := m.pass.Fset.File(p)
	return tf.LineStart(tf.Line(p))
}

// source is the text of n.
func (m *fileMigration) source(n ast.Node) []byte {
	tf := m.pass.Fset.File(n.Pos())
	content, err := m.pass.ReadFile(tf.Name())
	if err != nil {
		return nil
	}
	return bytes.Clone(content[tf.Offset(n.Pos()):tf.Offset(n.End())])
}

// report says what the file needs, with every edit in one fix (applied together, they leave a
// file that builds), at the first change.
func (m *fileMigration) report() {
	if len(m.changes) == 0 {
		return
	}
	slices.SortStableFunc(m.changes, func(a, b change) int { return int(a.pos - b.pos) })
	first := m.changes[0]
	m.pass.Report(analysis.Diagnostic{
		Pos:     first.pos,
		Message: "uringnet-migrate: " + first.msg,
		SuggestedFixes: []analysis.SuggestedFix{{
			Message:   "run on uringnet",
			TextEdits: m.edits,
		}},
	})
	for _, c := range m.changes[1:] {
		m.pass.Reportf(c.pos, "uringnet-migrate: %s", c.msg)
	}
}
