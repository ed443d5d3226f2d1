-- Report mix for wrk: monthly, weekly by country, a query, daily trends.
local paths = {
  "/api/report?interval=month",
  "/api/report?interval=week&by=country",
  "/api/report?q=migranti&interval=month",
  "/api/trends?interval=day&by=language",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
