window.YTD.tweets.part0 = [
  { "tweet" : { "id_str" : "4001", "full_text" : "ok" } },
  { "tweet" : { "id_str" : "4002" "full_text" : "comma missing" } }
]
