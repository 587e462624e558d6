-- Pieces shared by session.lua and reload.lua (loaded with dofile).

local M = {}

M.TRACK = "In"

-- The scenario's spec: a Lua file returning a table, named by $LOOPER_SPEC.
function M.load_spec()
	local path = os.getenv("LOOPER_SPEC")
	assert(path and path ~= "", "set LOOPER_SPEC to a spec file (written by harness.py)")
	local spec = dofile(path)
	for _, k in ipairs({ "dir", "name", "uri", "channels", "rate", "input_frames", "session_end",
		"lanes" }) do
		assert(spec[k] ~= nil, path .. ": missing " .. k)
	end
	return spec
end

-- The dummy backend, as fast as it goes (only the recording of the placeholder take runs
-- in real time; exports run in freewheel), or with the given driver ("Normal Speed":
-- real time, for roll.lua).
function M.start_engine(rate, driver)
	local backend = AudioEngine:set_backend("None (Dummy)", "", "")
	assert(backend and not backend:isnil(), "no \"None (Dummy)\" backend")
	backend:set_driver(driver or "50x Speed")
	backend:set_device_name("Silence")
	backend:set_sample_rate(rate)
	backend:set_buffer_size(256)
end

-- Polls cond() until it holds; fails after timeout seconds (wall clock).
function M.wait(cond, timeout, what)
	local t0 = os.time()
	while not cond() do
		assert(os.time() - t0 <= timeout, "timed out " .. what)
		sleep(0.01)
	end
end

-- The automation control of the plugin's LV2 port index `port`.
function M.lane(plugin, port)
	local ac = plugin:to_automatable():automation_control(
		Evoral.Parameter(ARDOUR.AutomationType.PluginAutomation, 0, port), false)
	assert(ac and not ac:isnil(), "no automation control for port " .. port)
	return ac
end

-- Checks that the lane for `port` is in Play mode and holds exactly the
-- events `points` ({ {sample, value}, ... }); prints them.
function M.expect_lane(plugin, port, points)
	local ac = M.lane(plugin, port)
	assert(ac:automation_state() == ARDOUR.AutoState.Play,
		"port " .. port .. ": automation state is not Play")
	local list = ac:alist()
	-- (7.3's Lua cannot read the list's time domain: harness.py check-session does)
	local i = 0
	for ev in list:events():iter() do
		i = i + 1
		local want = points[i]
		assert(want, string.format("port %d: unexpected event %d at %d", port, i, ev.when:samples()))
		assert(ev.when:samples() == want[1] and ev.value == want[2],
			string.format("port %d event %d: got (%d, %g), want (%d, %g)",
				port, i, ev.when:samples(), ev.value, want[1], want[2]))
		print(string.format("lane port %d: %d -> %g", port, ev.when:samples(), ev.value))
	end
	assert(i == #points, string.format("port %d: %d events, want %d", port, i, #points))
end

return M
