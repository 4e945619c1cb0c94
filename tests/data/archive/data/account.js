window.YTD.account.part0 = [
  {
    "account" : {
      "email" : null,
      "createdVia" : "web",
      "username" : "fixture_fern",
      "accountId" : "4242",
      "createdAt" : "2012-05-01T10:00:00.000Z",
      "accountDisplayName" : "Fixture Fern"
    }
  }
]
