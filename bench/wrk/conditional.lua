-- conditional: GET with If-None-Match set to the ETag the server returned (expected: 304).
-- Arguments (after --): the ETag, quotes included.
-- No response() callback (a cheap client); bench/run.sh tells 304s from 200s by the bytes
-- read per response.
local req

function init(args)
   req = wrk.format("GET", nil, { ["If-None-Match"] = args[1] })
end

function request() return req end
