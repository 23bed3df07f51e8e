-- pgbouncer_resume.lua: RESUME PgBouncer after the cutover, once its
-- configuration points at the new server (RELOAD it first if your deploy
-- changes pgbouncer.ini; set PGBOUNCER_RELOAD=1 to have this hook do it).
--
-- Use as the last cutover step, paired with pgbouncer_pause.lua (see there
-- for the plan). Needs hooks.allow_shell: true and psql on the PATH, for the
-- same reason: the admin console speaks only the simple query protocol.
--
-- Environment:
--   PGBOUNCER_ADMIN     conninfo of the admin console
--   PGBOUNCER_DATABASE  the database to resume; unset resumes every database
--   PGBOUNCER_RELOAD    "1": RELOAD the configuration before RESUME
local function run(conninfo, command)
  local code, out = pgshift.exec("psql -X -q -v ON_ERROR_STOP=1 " .. pgshift.shell_quote(conninfo)
    .. " -c " .. pgshift.shell_quote(command) .. " 2>&1")
  if code ~= 0 then
    return false, string.format("%s failed (exit %d): %s", command, code, out)
  end
  pgshift.log("info", "pgbouncer: " .. command .. " done")
  return true
end

return function(event, ctx)
  local conninfo = pgshift.env("PGBOUNCER_ADMIN")
  if not conninfo then
    return false, "PGBOUNCER_ADMIN is not set (conninfo of the PgBouncer admin console)"
  end
  local resume = "RESUME"
  local db = pgshift.env("PGBOUNCER_DATABASE")
  if db then
    if not db:match("^[%w_]+$") then
      return false, "PGBOUNCER_DATABASE must be a plain database name"
    end
    resume = resume .. " " .. db
  end
  if pgshift.env("PGBOUNCER_RELOAD") == "1" then
    local ok, why = run(conninfo, "RELOAD")
    if not ok then return false, why end
  end
  return run(conninfo, resume)
end
