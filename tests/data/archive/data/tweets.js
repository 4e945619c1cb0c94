window.YTD.tweets.part0 = [
  {
    "tweet" : {
      "id_str" : "1001",
      "id" : "1001",
      "created_at" : "Wed Oct 10 20:19:24 +0000 2018",
      "full_text" : "Planted garlic today &amp; it felt great",
      "lang" : "en",
      "retweeted" : false
    }
  },
  {
    "tweet" : {
      "id_str" : "1002",
      "created_at" : "Thu Oct 11 08:00:00 +0000 2018",
      "full_text" : "RT @someone: a post worth sharing with everyone who grows things…",
      "lang" : "en",
      "retweeted" : false
    }
  },
  {
    "tweet" : {
      "id_str" : "1003",
      "created_at" : "Thu Oct 11 09:00:00 +0000 2018",
      "full_text" : "a retweet flagged only by its retweeted_status",
      "retweeted_status" : { "id_str" : "900" },
      "lang" : "en"
    }
  },
  {
    "tweet" : {
      "id_str" : "1004",
      "created_at" : "Fri Oct 12 12:30:00 +0000 2018",
      "full_text" : "@friend thanks, the beans are doing well",
      "in_reply_to_status_id_str" : "950",
      "in_reply_to_user_id_str" : "77",
      "in_reply_to_screen_name" : "friend",
      "lang" : "en"
    }
  },
  {
    "tweet" : {
      "id_str" : "1005",
      "created_at" : "Fri Oct 12 12:31:00 +0000 2018",
      "full_text" : "2/ and the second part of my own thread",
      "in_reply_to_status_id_str" : "1001",
      "in_reply_to_user_id_str" : "4242",
      "in_reply_to_screen_name" : "fixture_fern",
      "lang" : "en"
    }
  },
  {
    "tweet" : {
      "id_str" : "1006",
      "created_at" : "Sat Oct 13 18:00:00 +0000 2018",
      "full_text" : "Look at this! https://t.co/abcdefghij",
      "is_quote_status" : true,
      "quoted_status_id_str" : "960",
      "lang" : "en"
    }
  }
]
