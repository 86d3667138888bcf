-- wrk script: Twilio Messages create (form POST with HTTP Basic auth) against the simulator.
-- SIM_AUTH = base64("AccountSid:AuthToken"); SIM_FROMS = comma-separated From numbers.
-- Bodies are prepared once and cycled, so wrk spends no time building them.
wrk.method = "POST"
wrk.headers["Authorization"] = "Basic " .. os.getenv("SIM_AUTH")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local bodies = {}
local n = 0

function init(args)
  local froms = {}
  for f in string.gmatch(os.getenv("SIM_FROMS"), "[^,]+") do
    froms[#froms + 1] = f:gsub("%+", "%%2B")
  end
  for i = 0, 4095 do
    local to = string.format("%%2B1415555%04d", 2000 + (i * 7919 + math.random(0, 6)) % 8000)
    bodies[#bodies + 1] = "To=" .. to .. "&From=" .. froms[(i % #froms) + 1]
      .. "&Body=Your+code+is+" .. string.format("%06d", i * 37 % 1000000) .. ".+Reply+STOP+to+opt+out."
  end
end

function request()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end
