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
return function(event, ctx)
  if pgshift.env("PGBOUNCER_RELOAD") == "1" then
    local ok, why = pgshift.pgbouncer("RELOAD", false)
    if not ok then return false, why end
  end
  return pgshift.pgbouncer("RESUME", true)
end
