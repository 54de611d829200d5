package org.peft4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/** {@code peft4j version}: the version and the runtime peft4j runs on. */
@Command(name = "version", header = "Print peft4j's version, the Java runtime, vector width and threads.")
final class VersionCommand implements Runnable {
    @ParentCommand
    Main main;

    @Override
    public void run() {
        for (String line : VersionInfo.lines()) main.out.println(line);
    }
}
