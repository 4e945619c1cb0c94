window.YTD.tweets.part1 = [
  {
    "tweet" : {
      "id_str" : "1007",
      "created_at" : "Sun Oct 14 07:00:00 +0000 2018",
      "full_text" : "Bonjour le jardin !\nDeuxième ligne.",
      "lang" : "fr"
    }
  },
  {
    "id_str" : "1008",
    "created_at" : "Mon Oct 15 07:00:00 +0000 2018",
    "text" : "a bare record with only text, no wrapper object",
    "lang" : "en"
  }
]
