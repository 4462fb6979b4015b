/*
 * tests/interop/tck/src/main/java/tessera/tck/Runner.java: runs the DSP
 * TCK's test cases (every class under org.eclipse.dataspacetck.dsp.verification
 * whose name ends in Test) through the JUnit Platform launcher and writes
 * one line per test case: "RESULT<TAB>id<TAB>passed|failed|skipped<TAB>why".
 *
 * The kit reads its configuration from system properties; they come from
 * the properties file named on the command line.  An optional second
 * argument is a regular expression on the display name ("CN:01-.*").
 */
package tessera.tck;

import java.io.FileReader;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Properties;
import java.util.regex.Pattern;

import org.junit.platform.engine.FilterResult;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.PostDiscoveryFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

import static org.junit.platform.engine.discovery.ClassNameFilter.includeClassNamePatterns;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

public final class Runner {
    private static final String PACKAGE = "org.eclipse.dataspacetck.dsp.verification";

    private Runner() {
    }

    /* "CN:01-01: Verify ..." -> "CN:01-01"; names without the prefix stay whole. */
    static String testId(String displayName) {
        int colon = displayName.indexOf(": ");
        return colon > 0 ? displayName.substring(0, colon) : displayName;
    }

    /* One line, tab-free, bounded: the table stays readable. */
    static String oneLine(String s) {
        if (s == null) {
            return "";
        }
        String t = s.replaceAll("[\\t\\r\\n]+", " ").trim();
        return t.length() > 300 ? t.substring(0, 300) + "..." : t;
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: Runner CONFIG.properties [DISPLAY-NAME-REGEX]");
            System.exit(2);
        }
        Properties props = new Properties();
        try (FileReader r = new FileReader(args[0])) {
            props.load(r);
        }
        props.forEach((k, v) -> System.setProperty((String) k, (String) v));
        Pattern only = args.length == 2 ? Pattern.compile(args[1]) : null;
        PrintStream out = System.out;

        LauncherDiscoveryRequestBuilder b = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectPackage(PACKAGE))
                .filters(includeClassNamePatterns(".*Test"));
        if (only != null) {
            b.filters((PostDiscoveryFilter) d -> !d.isTest()
                    || only.matcher(d.getDisplayName()).lookingAt()
                    ? FilterResult.included("selected")
                    : FilterResult.excluded("not selected"));
        }
        LauncherDiscoveryRequest request = b.build();
        Launcher launcher = LauncherFactory.create();
        launcher.registerTestExecutionListeners(new TestExecutionListener() {
            @Override
            public void executionSkipped(TestIdentifier t, String reason) {
                if (t.isTest()) {
                    out.println("RESULT\t" + testId(t.getDisplayName()) + "\tskipped\t" + oneLine(reason));
                }
            }

            @Override
            public void executionFinished(TestIdentifier t, TestExecutionResult r) {
                if (!t.isTest()) {
                    if (r.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                        out.println("# container " + t.getDisplayName() + ": "
                                + oneLine(r.getThrowable().map(Throwable::toString).orElse("")));
                    }
                    return;
                }
                String status = r.getStatus() == TestExecutionResult.Status.SUCCESSFUL ? "passed" : "failed";
                String why = r.getThrowable().map(Throwable::toString).orElse("");
                out.println("RESULT\t" + testId(t.getDisplayName()) + "\t" + status + "\t" + oneLine(why));
                out.flush();
            }
        });
        launcher.execute(request);
        System.exit(0);
    }
}
