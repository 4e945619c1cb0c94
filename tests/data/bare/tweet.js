window.YTD.tweet.part0 = [ {
  "tweet" : {
    "id_str" : "2001",
    "created_at" : "Tue Jan 01 00:00:01 +0000 2013",
    "full_text" : "An old-style archive names its file tweet.js",
    "lang" : "en"
  }
}, {
  "tweet" : {
    "id_str" : "2002",
    "created_at" : "Wed Jan 02 00:00:01 +0000 2013",
    "full_text" : "@pal a reply in the old archive",
    "in_reply_to_user_id_str" : "55",
    "lang" : "en"
  }
} ]
