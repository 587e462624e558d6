-- Gives a session made by ../session.lua its tempo map, and optionally the probe plugin
-- after the looper, then saves it (run by ardour7-lua).
--
--   LOOPER_SPEC=/path/spec.lua LOOPER_SYNC_SPEC=/path/sync.lua ardour7-lua tempo.lua
--
-- sync.lua (written by sync/sync_scenarios.py) is a Lua table:
--   tempos          { {quarter, bpm}, ... }: each tempo (constant, quarter notes a
--                   minute) from that quarter on; the first at quarter 0
--   beats_per_bar   the meter (of quarter notes), from the start
--   probe           nil, or the URI of a plugin to insert after the looper
--
-- The track's region and the looper's lanes are in audio time (samples), so the new map
-- moves neither. It prints the map as Ardour now has it (tempo and BBT at each change).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "../common.lua")
local spec = common.load_spec()
local path = os.getenv("LOOPER_SYNC_SPEC")
assert(path and path ~= "", "set LOOPER_SYNC_SPEC to a sync spec (written by sync/sync_scenarios.py)")
local sync = dofile(path)

common.start_engine(spec.rate)
assert(load_session(spec.dir, spec.name), "load_session failed: " .. spec.dir)
local track = Session:route_by_name(common.TRACK)
assert(track and not track:isnil(), "track " .. common.TRACK .. " is gone")
assert(not track:nth_plugin(0):isnil(), "no looper on track " .. common.TRACK)

-- Every fetch_writable() is matched by update() (or abort_update()).
local tm = Temporal.TempoMap.fetch_writable()
tm:set_meter(Temporal.Meter(sync.beats_per_bar, 4), Temporal.timepos_t(0))
for _, t in ipairs(sync.tempos) do
	local quarter, bpm = t[1], t[2]
	local at = quarter == 0 and Temporal.timepos_t(0)
		or Temporal.timepos_t.from_ticks(math.floor(quarter * Temporal.ticks_per_beat + 0.5))
	tm:set_tempo(Temporal.Tempo(bpm, bpm, 4), at)
end
Temporal.TempoMap.update(tm)

local map = Temporal.TempoMap.read()
for _, t in ipairs(sync.tempos) do
	local at = Temporal.timepos_t.from_ticks(math.floor(t[1] * Temporal.ticks_per_beat + 0.5))
	local s = at:samples()
	local after = Temporal.timepos_t(s + 1)
	print(string.format("tempo: quarter %g at sample %d (BBT %s): %.9f bpm, meter %d/%d", t[1], s,
		map:bbt_at(at):str(), map:quarters_per_minute_at(after),
		map:meter_at(after):divisions_per_bar(), map:meter_at(after):note_value()))
end

if sync.probe then
	local probe = ARDOUR.LuaAPI.new_plugin(Session, sync.probe, ARDOUR.PluginType.LV2, "")
	assert(not probe:isnil(), "plugin " .. sync.probe .. " not found in LV2_PATH ("
		.. tostring(os.getenv("LV2_PATH")) .. ")")
	assert(track:add_processor_by_index(probe, 1, nil, true), "add_processor_by_index failed")
	print("tempo: " .. sync.probe .. " after the looper")
end

Session:save_state("", false, false, false, false, false)
close_session()
print("tempo.lua: saved " .. spec.dir)
