-- hold_nodes: the hold load (hold.lua) spread over several tix nodes: wrk's thread k sends its
-- requests to node k % (number of nodes), and walks its own seats of bench-arena (thread k
-- takes seats first + k * stride, first + k * stride + 1, ...), so no two requests of the run
-- ask for the same seat. Run it with -t equal to (a multiple of) the number of nodes.
-- Arguments (after --): first seat index, stride. The nodes: the environment variable
-- BENCH_NODES, "HOST:PORT HOST:PORT ..." (setup() sees no arguments, only the environment).
local SEATS_PER_ROW = 1000
local SEATS_TOTAL = 1000000
local headers = { ["Content-Type"] = "application/json" }
local next_index = 0
local thread_count = 0
local nodes = {}

function setup(thread)
   if #nodes == 0 then
      for host, port in string.gmatch(os.getenv("BENCH_NODES") or "", "([^%s:]+):(%d+)") do
         nodes[#nodes + 1] = wrk.lookup(host, port)[1]
      end
      assert(#nodes > 0, "hold_nodes.lua: no node given")
   end
   thread.addr = nodes[thread_count % #nodes + 1]
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
   local stride = tonumber(args[2] or "100000") or 100000
   next_index = first + (thread_index or 0) * stride
end

function request()
   local index = next_index % SEATS_TOTAL
   next_index = next_index + 1
   local seat = row_label(math.floor(index / SEATS_PER_ROW)) ..
      string.format("%d", index % SEATS_PER_ROW + 1)
   local body = '{"event_id":"bench-arena","seat_id":"' .. seat .. '","user_id":"buyer' ..
      string.format("%d", index) .. '"}'
   return wrk.format("POST", "/reserve", headers, body)
end
