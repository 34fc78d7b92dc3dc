-- wrk script: each connection waits WRK_DELAY_MS (default 2) before each request, so 16
-- connections offer at most ~8 000 requests/s — a fixed load, measured for latency, rather
-- than a closed loop that takes every cycle the machine has from the ingest beside it.
local d = tonumber(os.getenv("WRK_DELAY_MS") or "2")
function delay()
	return d
end
