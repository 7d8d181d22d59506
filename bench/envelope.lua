-- wrk script: Sentry envelopes (POST /api/{project}/envelope/) shaped like
-- @sentry/node's: one event item (exception with 6 frames, contexts, tags,
-- breadcrumbs; ~2.5 KB), the key in X-Sentry-Auth, cycling through 40
-- distinct errors. The key and project come from the environment.
local key = os.getenv("SENTRY_KEY")
local n = 0
request = function()
	n = n + 1
	local i = n % 40
	local id = string.format("%08x%08x%08x%08x", n, i, n * 7, 12345)
	local frames = {}
	for f = 1, 6 do
		frames[#frames + 1] = string.format('{"filename":"/srv/app/lib/handler%d.js","function":"handle%d_%d","lineno":%d,"colno":%d,"in_app":true,"module":"lib.handler%d"}',
			f, f, i, 10 + f * 7, 5 + f, f)
	end
	local crumbs = {}
	for b = 1, 8 do
		crumbs[#crumbs + 1] = string.format('{"timestamp":%d.%03d,"category":"http","data":{"method":"GET","url":"https://api.example/items/%d","status_code":200},"type":"http"}',
			1795453200 + b, n % 1000, n * b % 9973)
	end
	local event = string.format('{"event_id":"%s","timestamp":%d.%03d,"platform":"node","level":"error","release":"api@1.%d.0","environment":"production",' ..
		'"server_name":"web-%d","exception":{"values":[{"type":"Error","value":"Order %d failed: upstream timeout in step %d","stacktrace":{"frames":[%s]},"mechanism":{"type":"onunhandledrejection","handled":false}}]},' ..
		'"contexts":{"runtime":{"name":"node","version":"v20.11.1"},"os":{"name":"Linux","version":"6.1.0"},"trace":{"trace_id":"%s","span_id":"%s"}},' ..
		'"tags":{"region":"eu-west-%d","tenant":"t%d"},"breadcrumbs":{"values":[%s]},"sdk":{"name":"sentry.javascript.node","version":"9.1.0"}}',
		id, 1795453200 + n % 3600, n % 1000, i % 4, n % 8, n, i, table.concat(frames, ","), id, string.sub(id, 1, 16), n % 3, n % 50, table.concat(crumbs, ","))
	local body = string.format('{"event_id":"%s","sent_at":"2026-11-23T12:00:00.000Z","sdk":{"name":"sentry.javascript.node","version":"9.1.0"}}\n{"type":"event"}\n%s\n', id, event)
	return wrk.format("POST", nil, { ["Content-Type"] = "application/x-sentry-envelope",
		["X-Sentry-Auth"] = "Sentry sentry_key=" .. key .. ", sentry_version=7, sentry_client=sentry.javascript.node/9.1.0" }, body)
end

function done(summary, latency, requests)
	io.write(string.format("RESULT requests=%d duration_us=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
		summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status,
		summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
