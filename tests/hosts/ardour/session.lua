-- Builds an Ardour session for one looper scenario, headless (run by ardour7-lua).
--
--   LOOPER_SPEC=/path/spec.lua ardour7-lua session.lua
--
-- The spec (written by harness.py) is a Lua table:
--   dir, name       session folder and name (the folder must not exist yet)
--   uri             the looper plugin (mono or stereo)
--   channels        the track's channels: 1 (mono looper) or 2 (stereo looper)
--   rate            sample rate
--   input_frames    length of the input region, from sample 0
--   session_end     export range is [0, session_end)
--   lanes           { [port index] = { {sample, value}, ... } }, AudioTime automation
--
-- What it makes: one track "In" of `channels` channels with one region [0, input_frames)
-- whose fades are off, the looper inserted first on the track with AudioTime
-- (sample-exact) automation on the given ports, session range [0, session_end). Ardour
-- 7.3's Lua cannot import a file, so the region is a take recorded from the dummy
-- backend's silent input; the caller overwrites the take's file(s) with the real input
-- afterwards (harness.py install-input).

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local spec = common.load_spec()

common.start_engine(spec.rate)
assert(create_session(spec.dir, spec.name, spec.rate), "create_session failed: " .. spec.dir)
assert(Session:nominal_sample_rate() == spec.rate, "session rate is not " .. spec.rate)

-- One track (mono or stereo) into the stereo master.
local track = Session:new_audio_track(spec.channels, 2, nil, 1, common.TRACK,
	ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true):front()
assert(track and not track:isnil(), "new_audio_track failed")
assert(track:n_inputs():n_audio() == spec.channels, "the track does not have " .. spec.channels .. " inputs")

-- Record a take at least input_frames long (the dummy input is silence).
local nodispo = PBD.GroupControlDisposition.NoGroup
local ui = ARDOUR.TransportRequestSource.TRS_UI
track:rec_enable_control():set_value(1, nodispo)
Session:maybe_enable_record(false)
Session:request_roll(ui)
common.wait(function() return Session:transport_sample() >= spec.input_frames end,
	30 + spec.input_frames / spec.rate, "recording the take")
Session:request_stop(false, false, ui)
common.wait(function() return not Session:transport_rolling() end, 30, "stopping")
Session:disable_record(false, false)
track:rec_enable_control():set_value(0, nodispo)
-- The butler turns the capture into a region after the stop, in its own time.
common.wait(function() return track:playlist():region_list():size() > 0 end, 30,
	"for the take's region")

-- Cut the take's region to exactly the input and switch its default 64-sample fades off.
local n = 0
for region in track:playlist():region_list():iter() do
	n = n + 1
	assert(region:position():samples() == 0, "take does not start at sample 0")
	assert(region:length():samples() >= spec.input_frames, "take is shorter than the input")
	region:set_length(Temporal.timecnt_t(spec.input_frames))
	local ar = region:to_audioregion()
	ar:set_fade_in_active(false)
	ar:set_fade_out_active(false)
	for c = 0, spec.channels - 1 do
		print(string.format("region %s [0, %d) channel %d source %s", region:name(),
			region:length():samples(), c, region:source(c):name()))
	end
end
assert(n == 1, "expected one region, found " .. n)

-- Export range.
local range = Session:locations():session_range_location()
assert(range, "no session range after recording")
range:set_end(Temporal.timepos_t(spec.session_end), true)
assert(range:start():samples() == 0 and range:_end():samples() == spec.session_end,
	"session range is not [0, session_end)")

-- The looper, first on the track, automated in AudioTime so events are sample-exact.
local plugin = ARDOUR.LuaAPI.new_plugin_with_time_domain(Session, spec.uri,
	ARDOUR.PluginType.LV2, Temporal.TimeDomain.AudioTime, "")
assert(not plugin:isnil(), "plugin " .. spec.uri .. " not found: is looper.lv2 in LV2_PATH ("
	.. tostring(os.getenv("LV2_PATH")) .. ")?")
assert(track:add_processor_by_index(plugin, 0, nil, true), "add_processor_by_index failed")

for port, points in pairs(spec.lanes) do
	local ac = common.lane(plugin, port)
	local list = ac:alist()
	for _, p in ipairs(points) do
		list:add(Temporal.timepos_t(p[1]), p[2], false, true)
	end
	ac:set_automation_state(ARDOUR.AutoState.Play)
	common.expect_lane(plugin, port, points)
end

Session:save_state("", false, false, false, false, false)
close_session()
print("session.lua: built " .. spec.dir)
