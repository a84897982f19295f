-- wrk script for the paid path: each request carries the next credential of the
-- file named by the CREDENTIALS environment variable (one `Payment …` per line,
-- minted by the mint_credentials example), so every request pays once. Use one
-- wrk thread (-t1): each thread would read the whole file and send the same
-- credentials. When the file runs out, requests go without a credential and are
-- answered 402 (wrk counts them as non-2xx): mint more than a run can send.
local credentials = {}
local next_index = 1

function init(args)
  for line in io.lines(os.getenv("CREDENTIALS")) do
    credentials[#credentials + 1] = line
  end
end

function request()
  local credential = credentials[next_index]
  next_index = next_index + 1
  if credential == nil then
    return wrk.format("GET", "/paid")
  end
  return wrk.format("GET", "/paid", { ["Authorization"] = credential })
end
