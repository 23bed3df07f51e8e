-- wait_for_http.lua: a gate that waits until a URL answers HTTP 200, e.g. a
-- health check of the application already configured for the new server.
--
--   cutover:
--     steps:
--       - lua: hooks/wait_for_http.lua
--   hooks:
--     allow_shell: true
--     timeout: 30m        # must exceed WAIT_FOR_HTTP_TIMEOUT
--
-- Needs hooks.allow_shell: true and curl (the sandbox has no sockets).
--
-- Environment:
--   WAIT_FOR_HTTP_URL      the URL to poll
--   WAIT_FOR_HTTP_TIMEOUT  seconds to wait (default 600)
return function(event, ctx)
  local url = pgshift.env("WAIT_FOR_HTTP_URL")
  if not url then
    return false, "WAIT_FOR_HTTP_URL is not set"
  end
  local timeout = tonumber(pgshift.env("WAIT_FOR_HTTP_TIMEOUT") or "600")
  local cmd = "curl -s -o /dev/null -w '%{http_code}' --max-time 10 " .. pgshift.shell_quote(url)
  local last = "none"
  local ok = pgshift.wait_until(function()
    local _, out = pgshift.exec(cmd)
    last = out
    return out == "200"
  end, timeout, 2)
  if not ok then
    return false, string.format("%s did not answer 200 within %ds (last status: %s)", url, timeout, last)
  end
  return true
end
