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
return function(event, ctx)
  return pgshift.pgbouncer("PAUSE", true)
end
