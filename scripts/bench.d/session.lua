-- Keeps the session cookie each wrk thread receives and sends it back, like a browser:
-- the first response creates a session, every later request reuses it.
local cookie = nil

response = function(status, headers, body)
    local set = headers["set-cookie"] or headers["Set-Cookie"]
    if set then
        local pair = set:match("^([^;]+)")
        if pair and not pair:match("=$") then
            cookie = pair
        end
    end
end

request = function()
    if cookie then
        return wrk.format("GET", nil, { ["Cookie"] = cookie })
    end
    return wrk.format("GET")
end
