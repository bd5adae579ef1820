-- hold_paced: hold.lua's requests (a new seat of "bench-arena" each) at a steady rate: every
-- request waits for its slot in one schedule of the thread, a slot every 1/rate s (LuaJIT's
-- FFI reads the monotonic clock); the connections only bound how many are in flight. When the
-- server answers slower than the rate, requests go as fast as the connections allow.
-- Arguments (after --): index of the first seat (as hold.lua), holds per second (default 1000),
-- the event's id (as hold.lua).
local ffi = require("ffi")
ffi.cdef [[
struct timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clk_id, struct timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("struct timespec")

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "hold.lua")

local hold_init = init
local interval_ms = 1
local next_ms = nil

local function now_ms()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
   return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

function init(args)
   hold_init({ args[1], args[3] })
   interval_ms = 1000 / (tonumber(args[2] or "1000") or 1000)
end

-- Milliseconds to wait before the next request: until its slot.
function delay()
   local now = now_ms()
   if not next_ms or next_ms < now - 1000 then next_ms = now end -- late by 1 s: no catching up
   local wait = next_ms - now
   next_ms = next_ms + interval_ms
   if wait <= 0 then return 0 end
   return math.floor(wait)
end
