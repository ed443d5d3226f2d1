-- Search mix for wrk: term, two terms, phrase, filtered, by date, collapsed.
local paths = {
  "/api/search?q=migranti",
  "/api/search?q=granica%20policija",
  "/api/search?q=%22migranti%20su%22",
  "/api/search?q=migranti&country=RS",
  "/api/search?q=grenze&sort=date",
  "/api/search?q=azil&collapse=true",
  "/api/search?q=%D0%BC%D0%B8%D0%B3%D1%80%D0%B0%D0%BD%D1%82%D0%B8",
  "/api/search?q=hate%3E0.5%20migranti",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
