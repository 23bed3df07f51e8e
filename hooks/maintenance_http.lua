-- maintenance_http.lua: switches an application's maintenance mode over
-- HTTP with curl, e.g. a load balancer or feature-flag endpoint.
--
-- As a cutover step it turns maintenance ON (or MAINTENANCE_STATE); as an
-- event hook it follows the cutover: ON at cutover.started, OFF at
-- cutover.finished, cutover.failed and run.failed.
--
--   cutover:
--     steps:
--       - lua: hooks/maintenance_http.lua      # on
--       ...
--   hooks:
--     allow_shell: true
--     lua:
--       - file: hooks/maintenance_http.lua
--         on: ["cutover.finished", "cutover.failed", "run.failed"]   # off
--
-- Needs hooks.allow_shell: true and curl (the sandbox has no sockets).
--
-- Environment:
--   MAINTENANCE_URL     the endpoint; the request is POST with body
--                       {"maintenance": true|false, "plan": "...", "event": "..."}
--   MAINTENANCE_TOKEN   optional bearer token (sent as a header, never logged)
--   MAINTENANCE_STATE   "on" or "off" for a cutover step (default "on")
local off_events = {["cutover.finished"] = true, ["cutover.failed"] = true, ["run.failed"] = true}

local function wanted_state(event)
  if event == "cutover.started" then return "on" end
  if off_events[event] then return "off" end
  return pgshift.env("MAINTENANCE_STATE") or "on"
end

local function json_string(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

return function(event, ctx)
  local url = pgshift.env("MAINTENANCE_URL")
  if not url then
    return false, "MAINTENANCE_URL is not set"
  end
  local state = wanted_state(event)
  if state ~= "on" and state ~= "off" then
    return false, "MAINTENANCE_STATE must be on or off, not " .. state
  end
  local body = string.format('{"maintenance": %s, "plan": %s, "event": %s}',
    state == "on" and "true" or "false", json_string(ctx.plan or ""), json_string(event))
  local cmd = "curl -sS --fail-with-body --max-time 20 -X POST -H 'Content-Type: application/json'"
  local token = pgshift.env("MAINTENANCE_TOKEN")
  if token then
    cmd = cmd .. " -H " .. pgshift.shell_quote("Authorization: Bearer " .. token)
  end
  cmd = cmd .. " --data " .. pgshift.shell_quote(body) .. " " .. pgshift.shell_quote(url) .. " 2>&1"
  local code, out = pgshift.exec(cmd)
  if code ~= 0 then
    return false, string.format("maintenance %s: curl failed (exit %d): %s", state, code, out)
  end
  pgshift.log("info", "maintenance mode " .. state)
  return true
end
