-- Mixed Driftline traffic for wrk: POST /predict with 1-20 real flights rows, and POST /feedback carrying the true
-- labels of rows answered at least LAG seconds earlier, by the request_ids the service gave them.
--
-- Run with one connection per thread (wrk -t N -c N): a connection has one request in flight, so each response
-- belongs to the request the same thread sent last, and its request_ids can be paired with that request's labels.
--
-- Arguments after `--`: ROWS_FILE (lines "label<TAB>row JSON"), OUT_DIR, FEEDBACK_EVERY (every Nth request is a
-- feedback when labels are due), DELAY_MS (pause before each request; 0 = as fast as possible), LAG (seconds),
-- SEED.
-- Each thread writes "model_version request_id" for every answered row to OUT_DIR/ids-<thread>.txt, and `done`
-- prints one "JSON {...}" line with the totals.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

function init(args)
   rows, labels = {}, {}
   for line in io.lines(args[1]) do
      local label, row = line:match("^([^\t]+)\t(.*)$")
      labels[#labels + 1] = label
      rows[#rows + 1] = row
   end
   out = io.open(args[2] .. "/ids-" .. tid .. ".txt", "w")
   feedback_every = tonumber(args[3])
   delay_ms = tonumber(args[4])
   lag = tonumber(args[5])
   math.randomseed(tonumber(args[6]) * 1000 + tid)
   headers = {["Content-Type"] = "application/json"}
   due_ids, due_labels, due_at = {}, {}, {}
   first_due, last_due = 1, 0
   sent_kind, sent_first, sent_count = nil, 0, 0
   sequence = 0
   -- totals read by `done` through thread:get
   predict_requests, predict_rows, predict_failed = 0, 0, 0
   feedback_requests, feedback_items, feedback_recorded, feedback_failed = 0, 0, 0, 0
   mismatched, versions_text = 0, ""
   versions = {}
end

local function feedback_body()
   local now, items = os.time(), {}
   while first_due <= last_due and #items < 50 and due_at[first_due] <= now - lag do
      items[#items + 1] = '{"request_id":"' .. due_ids[first_due] .. '","label":' .. due_labels[first_due] .. "}"
      due_ids[first_due], due_labels[first_due], due_at[first_due] = nil, nil, nil
      first_due = first_due + 1
   end
   if #items == 0 then
      return nil
   end
   return "[" .. table.concat(items, ",") .. "]", #items
end

function request()
   sequence = sequence + 1
   if sequence % feedback_every == 0 then
      local body, count = feedback_body()
      if body then
         sent_kind, sent_count = "feedback", count
         return wrk.format("POST", "/feedback", headers, body)
      end
   end
   local count = math.random(1, 20)
   local first = math.random(1, #rows - count + 1)
   sent_kind, sent_first, sent_count = "predict", first, count
   return wrk.format("POST", "/predict", headers, "[" .. table.concat(rows, ",", first, first + count - 1) .. "]")
end

function delay()
   return delay_ms
end

local function on_predicted(body)
   local version = body:match('"model_version"%s*:%s*(%d+)')
   local now, index = os.time(), 0
   for id in body:gmatch('"request_id"%s*:%s*"([^"]+)"') do
      index = index + 1
      out:write(version, " ", id, "\n")
      last_due = last_due + 1
      due_ids[last_due], due_labels[last_due], due_at[last_due] = id, labels[sent_first + index - 1], now
   end
   if index ~= sent_count then
      mismatched = mismatched + 1
   end
   predict_rows = predict_rows + index
   versions[version] = (versions[version] or 0) + index
   local parts = {}
   for v, n in pairs(versions) do
      parts[#parts + 1] = '"' .. v .. '":' .. n
   end
   versions_text = table.concat(parts, ",")
end

function response(status, _, body)
   if sent_kind == "predict" then
      predict_requests = predict_requests + 1
      if status == 200 then
         on_predicted(body)
      else
         predict_failed = predict_failed + 1
      end
   elseif sent_kind == "feedback" then
      feedback_requests = feedback_requests + 1
      feedback_items = feedback_items + sent_count
      if status == 200 then
         feedback_recorded = feedback_recorded + tonumber(body:match('"recorded"%s*:%s*(%d+)') or 0)
      else
         feedback_failed = feedback_failed + 1
      end
   end
   sent_kind = nil
   if sequence % 200 == 0 then
      out:flush()
   end
end

function done(summary, latency, _)
   local totals = {
      predict_requests = 0, predict_rows = 0, predict_failed = 0, feedback_requests = 0, feedback_items = 0,
      feedback_recorded = 0, feedback_failed = 0, mismatched = 0,
   }
   local versions = {}
   for _, thread in ipairs(threads) do
      for name in pairs(totals) do
         totals[name] = totals[name] + thread:get(name)
      end
      versions[#versions + 1] = "{" .. thread:get("versions_text") .. "}"
   end
   local parts = {}
   for name, value in pairs(totals) do
      parts[#parts + 1] = '"' .. name .. '":' .. value
   end
   local errors = summary.errors
   io.write(string.format(
      'JSON {%s,"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
      '"p50_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%f,"versions":[%s]}\n',
      table.concat(parts, ","), summary.requests, summary.duration, errors.status, errors.connect, errors.read,
      errors.write, errors.timeout, latency:percentile(50), latency:percentile(99), latency.max, latency.mean,
      table.concat(versions, ",")))
end
