from tulu_rewards.cli import main

raise SystemExit(main())
