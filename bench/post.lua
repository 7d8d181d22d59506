-- wrk script: posts a ~600-byte urlencoded form, keep-alive, asking for JSON.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
local msg = string.rep("The quick brown fox jumps over the lazy dog. ", 11)
wrk.body = "name=Ada+Lovelace&email=ada%40example.com&subject=Benchmark&company=Analytical+Engines+Ltd" ..
	"&phone=%2B44+20+7946+0000&message=" .. msg:gsub(" ", "+")

function done(summary, latency, requests)
	local non2xx = summary.errors.status
	io.write(string.format("RESULT requests=%d duration_us=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
		summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
		latency:percentile(50) / 1000, latency:percentile(99) / 1000, non2xx,
		summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
