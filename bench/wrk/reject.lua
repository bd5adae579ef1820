-- reject: POST /reserve for a seat that is already held, the same request every time.
-- Expected: 409 seat_unavailable from tix; the reference (nginx) answers the same 409 body.
-- Arguments (after --): event id, seat id.
-- No response() callback: wrk then skips parsing bodies into Lua, so the client stays cheap;
-- bench/run.sh checks the statuses through wrk's "Non-2xx or 3xx responses" count.
local req

function init(args)
   local event_id = args[1] or "nba-finals"
   local seat_id = args[2] or "A1"
   local body = string.format('{"event_id":"%s","seat_id":"%s","user_id":"bench"}',
                              event_id, seat_id)
   req = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end

function request() return req end
