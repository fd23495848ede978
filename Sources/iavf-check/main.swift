import IavfCheckCLI

IavfCheckCommand.main()
