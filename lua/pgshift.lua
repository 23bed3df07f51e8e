-- pgshift's Lua-side library, loaded into every hook state before the hook
-- file (embedded in the binary at build time). It receives the C module
-- (log, query, notify, env, sleep, wait_until, exec, file_exists) and adds
-- helpers written in Lua. Everything here runs inside the hook sandbox and
-- under the hook's timeout.
local M = ...

-- pgshift.retry(fn, n [, delay]) -> fn's results.
-- Calls fn up to n times, sleeping delay seconds (default 1, doubling) between
-- failed attempts; raises the last error when every attempt failed. A timeout
-- of the hook is never retried: it keeps raising until the hook ends.
function M.retry(fn, n, delay)
  assert(type(fn) == "function", "pgshift.retry: fn must be a function")
  n = n or 3
  delay = delay or 1
  local last
  for attempt = 1, n do
    local res = table.pack(pcall(fn, attempt))
    if res[1] then
      return table.unpack(res, 2, res.n)
    end
    last = res[2]
    if attempt < n then
      M.log("warning", string.format("attempt %d of %d failed: %s", attempt, n, tostring(last)))
      M.sleep(delay)
      delay = delay * 2
    end
  end
  error(last, 0)
end

-- pgshift.format_bytes(n) -> "1.5 MB"
function M.format_bytes(n)
  if n == nil then return "?" end
  local units = {"B", "kB", "MB", "GB", "TB"}
  local i = 1
  while n >= 1024 and i < #units do
    n = n / 1024
    i = i + 1
  end
  if i == 1 then return string.format("%d B", n) end
  return string.format("%.1f %s", n, units[i])
end

-- pgshift.format_duration(seconds) -> "1h 02m 03s" / "4.2s"
function M.format_duration(s)
  if s == nil then return "?" end
  if s < 60 then return string.format("%.1fs", s) end
  local h = math.floor(s / 3600)
  local m = math.floor((s % 3600) / 60)
  local sec = math.floor(s % 60)
  if h > 0 then return string.format("%dh %02dm %02ds", h, m, sec) end
  return string.format("%dm %02ds", m, sec)
end

-- pgshift.shell_quote(s) -> s in single quotes for /bin/sh (for pgshift.exec).
function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- pgshift.describe(event, ctx) -> a one-line summary of an event, for logs and notify.
function M.describe(event, ctx)
  local parts = {event}
  if ctx.step then parts[#parts + 1] = "step " .. ctx.step end
  if ctx.table then parts[#parts + 1] = "table " .. ctx.table end
  if ctx.rows then parts[#parts + 1] = ctx.rows .. " rows" end
  if ctx.bytes then parts[#parts + 1] = M.format_bytes(ctx.bytes) end
  if ctx.lag_bytes then parts[#parts + 1] = "lag " .. M.format_bytes(ctx.lag_bytes) end
  if ctx.lag_seconds then parts[#parts + 1] = "lag " .. M.format_duration(ctx.lag_seconds) end
  if ctx.error then parts[#parts + 1] = "error: " .. ctx.error end
  return table.concat(parts, ", ")
end

-- pgshift.exec_ok(cmd) -> output; raises with the exit code and output when cmd fails.
function M.exec_ok(cmd)
  local code, out = M.exec(cmd)
  if code ~= 0 then
    error(string.format("command failed (exit %d): %s", code, out), 2)
  end
  return out
end

-- pgshift.pgbouncer(command [, per_database]) -> true, or false and the reason.
-- Runs one PgBouncer admin-console command (PAUSE, RESUME, RELOAD) through
-- psql: the console speaks only the simple query protocol, which
-- pgshift.query (bound parameters) does not. Needs hooks.allow_shell.
-- per_database appends PGBOUNCER_DATABASE when it is set.
function M.pgbouncer(command, per_database)
  local conninfo = M.env("PGBOUNCER_ADMIN")
  if not conninfo then
    return false, "PGBOUNCER_ADMIN is not set (conninfo of the PgBouncer admin console)"
  end
  local db = per_database and M.env("PGBOUNCER_DATABASE")
  if db then
    if not db:match("^[%w_]+$") then
      return false, "PGBOUNCER_DATABASE must be a plain database name"
    end
    command = command .. " " .. db
  end
  local code, out = M.exec("psql -X -q -v ON_ERROR_STOP=1 " .. M.shell_quote(conninfo)
    .. " -c " .. M.shell_quote(command) .. " 2>&1")
  if code ~= 0 then
    return false, string.format("%s failed (exit %d): %s", command, code, out)
  end
  M.log("info", "pgbouncer: " .. command .. " done")
  return true
end
