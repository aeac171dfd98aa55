-- Sends one of a pool of pre-created session cookies (a file, one `name=value` per line)
-- with each request, round robin, so the server sees many live sessions; with an empty
-- file it sends no cookie at all.
local cookies = {}
local next_cookie = 0

init = function(args)
    for line in io.lines(args[1]) do
        if line ~= "" then
            table.insert(cookies, line)
        end
    end
end

request = function()
    if #cookies == 0 then
        return wrk.format("GET")
    end
    next_cookie = next_cookie % #cookies + 1
    return wrk.format("GET", nil, { ["Cookie"] = cookies[next_cookie] })
end
