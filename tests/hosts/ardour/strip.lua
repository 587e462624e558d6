-- Reopens a session saved by roll.lua, removes the lanes of the ports listed in the
-- spec's strip (record and overdub), and saves it again (run by ardour7-lua): what a
-- musician does once the loop is recorded, so that reopening or exporting the session
-- plays the saved loop instead of recording it again.
--
--   LOOPER_SPEC=/path/spec.lua ardour7-lua strip.lua
--
-- A removed lane: its events cleared, its automation state Off, its control at 0. The
-- other lanes must be back as specified. harness.py check-session checks the file.

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local spec = common.load_spec()
assert(spec.strip, "the spec has no strip")

common.start_engine(spec.rate)
assert(load_session(spec.dir, spec.name), "load_session failed: " .. spec.dir)
local track = Session:route_by_name(common.TRACK)
assert(track and not track:isnil(), "track " .. common.TRACK .. " is gone")
local proc = track:nth_plugin(0)
assert(proc and not proc:isnil(), "no plugin on track " .. common.TRACK)
local uri = proc:to_insert():plugin(0):unique_id()
assert(uri == spec.uri, "first plugin is " .. tostring(uri) .. ", not " .. spec.uri)

local nodispo = PBD.GroupControlDisposition.NoGroup
local stripped = {}
for _, port in ipairs(spec.strip) do
	local ac = common.lane(proc, port)
	ac:set_automation_state(ARDOUR.AutoState.Off)
	ac:alist():clear_list()
	ac:set_value(0, nodispo)
	assert(ac:alist():events():size() == 0, "port " .. port .. ": events left")
	stripped[port] = true
	print(string.format("strip: port %d lane removed, value %g", port, ac:get_value()))
end
for port, points in pairs(spec.lanes) do
	if not stripped[port] then
		common.expect_lane(proc, port, points)
	end
end

Session:save_state("", false, false, false, false, false)
close_session()
print("strip.lua: saved " .. spec.dir)
