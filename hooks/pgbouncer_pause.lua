-- pgbouncer_pause.lua: PAUSE PgBouncer before traffic moves, so clients wait
-- in PgBouncer (instead of failing) while the cutover runs.
--
-- Use as the first cutover step, and pgbouncer_resume.lua after PgBouncer
-- points at the new server:
--
--   cutover:
--     steps:
--       - lua: hooks/pgbouncer_pause.lua
--       - fence_writes: {}
--       - wait_for_catchup: {}
--       - sync_sequences: {}
--       - lua: hooks/pgbouncer_resume.lua
--   hooks:
--     allow_shell: true
--
-- Needs hooks.allow_shell: true and psql on the PATH: PgBouncer's admin
-- console speaks only the simple query protocol, and pgshift.query binds
-- parameters (the extended protocol), so the command goes through psql.
--
-- Environment:
--   PGBOUNCER_ADMIN     conninfo of the admin console, e.g.
--                       "host=127.0.0.1 port=6432 dbname=pgbouncer user=pgbouncer"
--   PGBOUNCER_DATABASE  the database to pause; unset pauses every database
--
-- PAUSE waits for running transactions to finish; hooks.timeout bounds that.
local function admin(command)
  local conninfo = pgshift.env("PGBOUNCER_ADMIN")
  if not conninfo then
    return false, "PGBOUNCER_ADMIN is not set (conninfo of the PgBouncer admin console)"
  end
  local db = pgshift.env("PGBOUNCER_DATABASE")
  if db then
    if not db:match("^[%w_]+$") then
      return false, "PGBOUNCER_DATABASE must be a plain database name"
    end
    command = command .. " " .. db
  end
  local code, out = pgshift.exec("psql -X -q -v ON_ERROR_STOP=1 " .. pgshift.shell_quote(conninfo)
    .. " -c " .. pgshift.shell_quote(command) .. " 2>&1")
  if code ~= 0 then
    return false, string.format("%s failed (exit %d): %s", command, code, out)
  end
  pgshift.log("info", "pgbouncer: " .. command .. " done")
  return true
end

return function(event, ctx)
  return admin("PAUSE")
end
