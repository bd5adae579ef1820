-- hold: POST /reserve on distinct free seats of the 1,000,000-seat event "bench-arena"
-- (1,000 rows A, B, ..., Z, AA, ... of 1,000 seats each), walked in order so that every
-- request takes a new seat: 201, durable.
-- Arguments (after --): index of the first seat (0-based; default 0), so that the warm-up and
-- the measurement walk different seats; the event's id (default bench-arena; another event
-- made the same way); with several threads, the stride between the threads' first seats
-- (default 100000): thread k walks from first + k * stride.
-- Several nodes (hold-pg-3): with the environment variable BENCH_NODES ("HOST:PORT HOST:PORT
-- ..."; setup() sees no arguments, only the environment), wrk's thread k sends its requests to
-- node k % (number of nodes); run it with -t a multiple of the number of nodes.
-- No response() callback (a cheap client): bench/run.sh checks that no answer was a non-2xx
-- through wrk's own count.
local SEATS_PER_ROW = 1000
local SEATS_TOTAL = 1000000
local headers = { ["Content-Type"] = "application/json" }
local next_index = 0
local body_head = '{"event_id":"bench-arena","seat_id":"'
local thread_count = 0
local nodes = nil

function setup(thread)
   if not nodes then
      nodes = {}
      for host, port in string.gmatch(os.getenv("BENCH_NODES") or "", "([^%s:]+):(%d+)") do
         nodes[#nodes + 1] = wrk.lookup(host, port)[1]
      end
   end
   if #nodes > 0 then thread.addr = nodes[thread_count % #nodes + 1] end
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
end

-- Row label of row i (0-based): bijective base 26, as bench/run.sh names the rows.
local function row_label(i)
   local label, n = "", i + 1
   while n > 0 do
      n = n - 1
      label = string.char(65 + n % 26) .. label
      n = math.floor(n / 26)
   end
   return label
end

function init(args)
   local first = tonumber(args[1] or "0") or 0
   body_head = '{"event_id":"' .. (args[2] or "bench-arena") .. '","seat_id":"'
   local stride = tonumber(args[3] or "100000") or 100000
   next_index = first + (thread_index or 0) * stride
end

function request()
   local index = next_index % SEATS_TOTAL
   next_index = next_index + 1
   local seat = row_label(math.floor(index / SEATS_PER_ROW)) ..
      string.format("%d", index % SEATS_PER_ROW + 1)
   -- one buyer per seat: tix limits the seats one buyer may hold in an event
   local body = body_head .. seat .. '","user_id":"buyer' ..
      string.format("%d", index) .. '"}'
   return wrk.format("POST", "/reserve", headers, body)
end
