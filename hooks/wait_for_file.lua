-- wait_for_file.lua: a gate that waits until a file exists, e.g. a deploy
-- job touching /run/deploy/ready once the application can follow the new
-- server. Fails the step when the file does not appear in time.
--
--   cutover:
--     steps:
--       - lua: hooks/wait_for_file.lua
--   hooks:
--     timeout: 30m        # must exceed WAIT_FOR_FILE_TIMEOUT
--
-- The sandbox has no io library; pgshift.file_exists answers the one
-- question this gate asks, without hooks.allow_shell.
--
-- Environment:
--   WAIT_FOR_FILE          the path to wait for
--   WAIT_FOR_FILE_TIMEOUT  seconds to wait (default 600)
return function(event, ctx)
  local path = pgshift.env("WAIT_FOR_FILE")
  if not path then
    return false, "WAIT_FOR_FILE is not set"
  end
  local timeout = tonumber(pgshift.env("WAIT_FOR_FILE_TIMEOUT") or "600")
  pgshift.log("info", "waiting up to " .. timeout .. "s for " .. path)
  if not pgshift.wait_until(function() return pgshift.file_exists(path) end, timeout, 1) then
    return false, string.format("%s did not appear within %ds", path, timeout)
  end
  return true
end
