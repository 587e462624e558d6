-- Reloads a session made by session.lua, checks that the looper and its automation came
-- back as specified, and saves it again (run by ardour7-lua).
--
--   LOOPER_SPEC=/path/spec.lua ardour7-lua reload.lua

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
local spec = common.load_spec()

common.start_engine(spec.rate)
assert(load_session(spec.dir, spec.name), "load_session failed: " .. spec.dir)

local track = Session:route_by_name(common.TRACK)
assert(track and not track:isnil(), "track " .. common.TRACK .. " is gone")

-- The looper is the track's first (and only) plugin, and it is the real one: a plugin
-- Ardour cannot find would come back as a stub that passes audio through.
local proc = track:nth_plugin(0)
assert(proc and not proc:isnil(), "no plugin on track " .. common.TRACK)
local insert = proc:to_insert()
assert(insert and not insert:isnil(), "first plugin is not a plugin insert")
local uri = insert:plugin(0):unique_id()
assert(uri == spec.uri, "first plugin is " .. tostring(uri) .. ", not " .. spec.uri)
assert(proc:active(), "the looper is not active")
assert(track:nth_plugin(1):isnil(), "more than one plugin on the track")
print("plugin " .. uri .. " (" .. proc:display_name() .. ")")

for port, points in pairs(spec.lanes) do
	common.expect_lane(proc, port, points)
end

local range = Session:locations():session_range_location()
assert(range:start():samples() == 0 and range:_end():samples() == spec.session_end,
	"session range changed")

Session:save_state("", false, false, false, false, false)
close_session()
print("reload.lua: checked and saved " .. spec.dir)
