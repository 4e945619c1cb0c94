window.YTD.tweets.part0 = [
  { "tweet" : { "id_str" : "3001", "created_at" : "Tue Jan 01 00:00:01 +0000 2013", "full_text" : "fine" } },
  { "tweet" : { "id_str" : "3002", "created_at" : "Tue Jan 01 00:00:02 +0000 2013", "full_text" : "fine too" } },
  { "tweet" : { "id_str" : "3003", "created_at" : "Tue Jan 01 00:00:03 +0000 2013", "lang" : "en" } }
]
