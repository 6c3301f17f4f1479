from deskhand.guest.daemon import main

main()
