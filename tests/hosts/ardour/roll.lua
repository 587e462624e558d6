-- Rolls a session made by session.lua in real time, so that the looper records what its
-- automation says into its own state, and saves the session (run by ardour7-lua).
--
--   LOOPER_SPEC=/path/spec.lua ardour7-lua roll.lua
--
-- An export (ardour7-export) does not save the session, so a loop recorded while
-- exporting is not in any saved state: this is how a saved-state scenario gets its loop.
-- The spec's roll_to, save_at (optional): the transport rolls from 0 on the dummy
-- backend's "Normal Speed" driver (real time: the worker runs on its own thread, as for
-- a musician) until it passes roll_to, then stops. Without save_at the session is saved
-- after the stop; with it, it is saved while rolling, as soon as the transport passes
-- save_at, and it is closed unsaved after the stop (what the save caught is all that
-- is kept).

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local spec = common.load_spec()
assert(spec.roll_to, "the spec has no roll_to")

common.start_engine(spec.rate, "Normal Speed")
assert(load_session(spec.dir, spec.name), "load_session failed: " .. spec.dir)
local track = Session:route_by_name(common.TRACK)
assert(track and not track:isnil(), "track " .. common.TRACK .. " is gone")
assert(not track:nth_plugin(0):isnil(), "no looper on track " .. common.TRACK)

local ui = ARDOUR.TransportRequestSource.TRS_UI
local seconds = spec.roll_to / spec.rate
-- The session was saved with the playhead where session.lua stopped its take.
Session:request_locate(0, false, ARDOUR.LocateTransportDisposition.MustStop, ui)
common.wait(function() return Session:transport_sample() == 0 end, 30, "locating to 0")
local t0 = os.time()
Session:request_roll(ui)
common.wait(function() return Session:transport_rolling() end, 30, "for the roll")

if spec.save_at then
	common.wait(function() return Session:transport_sample() >= spec.save_at end,
		30 + seconds, "rolling to save_at")
	local at = Session:transport_sample()
	Session:save_state("", false, false, false, false, false)
	print(string.format("roll: saved while rolling, from sample %d to %d", at,
		Session:transport_sample()))
	assert(Session:transport_rolling(), "the transport stopped while saving")
end
common.wait(function() return Session:transport_sample() >= spec.roll_to end,
	30 + seconds, "rolling to roll_to")
Session:request_stop(false, false, ui)
common.wait(function() return not Session:transport_rolling() end, 30, "stopping")
print(string.format("roll: stopped at sample %d after about %d s", Session:transport_sample(),
	os.time() - t0))
if not spec.save_at then
	Session:save_state("", false, false, false, false, false)
	print("roll: saved after the stop")
end
close_session()
print("roll.lua: rolled " .. spec.dir)
