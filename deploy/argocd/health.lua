-- Argo CD health of a stackops stack (EcommerceStack, BookingPlatform).
-- Healthy: Ready is True for the current generation and the servers pass
-- the load balancer's health checks (Serving True). Degraded: Degraded is
-- True (terminal AWS error, invalid spec, drift under ObserveOnly, blocked
-- teardown), or Ready but no server passes its health checks
-- (Serving reason NoHealthyServers). Suspended: spec.paused. Progressing:
-- anything else, including servers still starting and a spec change the
-- operator has not observed yet.
local hs = {}
local function condition(conditions, kind)
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local status = obj.status
if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for stackops to report status"
  return hs
end
if status.observedGeneration == nil or obj.metadata.generation == nil
    or status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for stackops to observe generation " .. tostring(obj.metadata.generation)
  return hs
end

local ready = condition(status.conditions, "Ready")
local degraded = condition(status.conditions, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = degraded.message or degraded.reason
  return hs
end
local serving = condition(status.conditions, "Serving")
if ready ~= nil and ready.status == "True" then
  if serving == nil or serving.status == "True" then
    hs.status = "Healthy"
    hs.message = ready.message or ""
  elseif serving.reason == "NoHealthyServers" then
    hs.status = "Degraded"
    hs.message = serving.message or serving.reason
  else
    hs.status = "Progressing"
    hs.message = serving.message or serving.reason
  end
  return hs
end
if ready ~= nil and ready.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = ready.message
  return hs
end
hs.status = "Progressing"
if ready ~= nil then
  hs.message = ready.message
else
  hs.message = "Waiting for the Ready condition"
end
return hs
