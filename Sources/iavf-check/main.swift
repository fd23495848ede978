import IavfCheckCLI

IavfCheckCommand.runMain()
