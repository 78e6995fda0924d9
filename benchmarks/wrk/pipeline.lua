-- wrk script: send N requests per write (HTTP pipelining, the TechEmpower plaintext shape).
-- Usage: wrk -s pipeline.lua http://host:port/ -- 16
local depth = 16

function init(args)
  depth = tonumber(args[1]) or depth
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, "/")
  end
  req = table.concat(r)
end

function request()
  return req
end
