-- wrk script: TrackX events (POST /v1/{key}/event) as the client sends them
-- (text/plain JSON, ~1.3 KB with a Chromium stack), cycling through 40
-- distinct errors so that grouping works on more than one issue.
local n = 0
local function stack(i)
	return "TypeError: Cannot read properties of undefined (reading 'id" .. i .. "')\n" ..
		"    at renderRow (https://shop.example/assets/app.3f9a1c2b.js:1:" .. (1000 + i) .. ")\n" ..
		"    at Array.map (<anonymous>)\n" ..
		"    at renderTable (https://shop.example/assets/app.3f9a1c2b.js:1:20431)\n" ..
		"    at update (https://shop.example/assets/vendor.77ab01de.js:2:88121)\n" ..
		"    at flush (https://shop.example/assets/vendor.77ab01de.js:2:90011)\n" ..
		"    at HTMLButtonElement.onClick (https://shop.example/assets/app.3f9a1c2b.js:1:31877)"
end
request = function()
	n = n + 1
	local i = n % 40
	local body = string.format('{"name":"TypeError","message":"Cannot read properties of undefined (reading \'id%d\')",' ..
		'"type":1,"uri":"https://shop.example/cart?step=%d","stack":%q,"meta":{"release":"2.14.%d","user":"u%d"}}',
		i, n % 5, stack(i), i % 3, n % 1000)
	body = body:gsub("\\\n", "\\n")
	return wrk.format("POST", nil, { ["Content-Type"] = "text/plain;charset=UTF-8",
		["Origin"] = "https://shop.example", ["User-Agent"] = "Mozilla/5.0 bench " .. (n % 500) }, body)
end

function done(summary, latency, requests)
	io.write(string.format("RESULT requests=%d duration_us=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
		summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status,
		summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
