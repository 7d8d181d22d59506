-- bench/post.lua, and which non-2xx statuses came back (bench/cluster):
-- each thread counts them, done() adds "statuses=CODE:N,..." to RESULT.
dofile("bench/post.lua")

local threads = {}
local plain_done = done

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	counts = {}
end

function response(status, headers, body)
	if status < 200 or status > 299 then
		counts[status] = (counts[status] or 0) + 1
	end
end

function done(summary, latency, requests)
	local all = {}
	for _, t in ipairs(threads) do
		for code, n in pairs(t:get("counts") or {}) do
			all[code] = (all[code] or 0) + n
		end
	end
	local parts = {}
	for code, n in pairs(all) do
		table.insert(parts, code .. ":" .. n)
	end
	table.sort(parts)
	local real_write = io.write
	io.write = function(s)
		io.write = real_write
		real_write((s:gsub("\n$", "")) .. " statuses=" .. (#parts > 0 and table.concat(parts, ",") or "-") .. "\n")
	end
	plain_done(summary, latency, requests)
	io.write = real_write
end
