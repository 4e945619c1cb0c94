window.YTD.profile.part0 = [
  {
    "profile" : {
      "description" : {
        "bio" : "A hand-written test fixture.",
        "website" : "",
        "location" : ""
      },
      "avatarMediaUrl" : "https://pbs.twimg.com/profile_images/1/fixture.jpg",
      "headerMediaUrl" : "./data/profile_media/4242-header.jpg"
    }
  }
]
