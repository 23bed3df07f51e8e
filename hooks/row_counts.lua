-- row_counts.lua: counts the rows of every user table on the source and the
-- target and posts a summary through pgshift.notify (Slack / webhook when
-- the notification side is configured; always in pgshift's log).
--
-- Use as a cutover step after writes are fenced and CDC caught up, or
-- subscribed to an event:
--
--   cutover:
--     steps:
--       - fence_writes: {}
--       - wait_for_catchup: {}
--       - lua: hooks/row_counts.lua
--   hooks:
--     lua:
--       - file: hooks/row_counts.lua
--         on: ["copy.finished"]
--
-- Environment:
--   ROW_COUNTS_STRICT  "1": a table whose counts differ fails the step
--
-- count(*) reads every table in full: on a large database give hooks.timeout
-- room, or use verify: { level: count } which runs in parallel.
local function count(side, t)
  return tonumber(pgshift.query(side, "SELECT count(*) AS n FROM " .. t)[1].n)
end

return function(event, ctx)
  -- the server quotes the names (format %I): nothing is spliced by hand
  local tables = pgshift.query("source", [[
    SELECT format('%I.%I', n.nspname, c.relname) AS t
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgshift')
       AND n.nspname NOT LIKE 'pg\_%'
     ORDER BY 1]])
  local lines, differ = {}, 0
  for _, row in ipairs(tables) do
    local ok, dst = pcall(count, "target", row.t)
    local src = count("source", row.t)
    local mark = ""
    if not ok then
      dst, mark = "missing", "  <-- not on the target"
      differ = differ + 1
    elseif src ~= dst then
      mark = "  <-- differs"
      differ = differ + 1
    end
    lines[#lines + 1] = string.format("%s: source %s, target %s%s", row.t, src, dst, mark)
  end
  local head = string.format("row counts of plan %s (%s): %d table(s), %d differ",
    ctx.plan or "?", ctx.step or event, #tables, differ)
  pgshift.notify(head .. "\n" .. table.concat(lines, "\n"))
  if differ > 0 and pgshift.env("ROW_COUNTS_STRICT") == "1" then
    return false, string.format("%d table(s) have different row counts", differ)
  end
  return true
end
