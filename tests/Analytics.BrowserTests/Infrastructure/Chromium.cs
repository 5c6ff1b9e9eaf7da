using Analytics.BrowserTests.Infrastructure;
using Microsoft.Playwright;

[assembly: AssemblyFixture(typeof(Chromium))]

namespace Analytics.BrowserTests.Infrastructure;

/// <summary>
/// The system's Chromium, driven by Playwright: one browser for the whole test run, a fresh
/// context (no shared cookies, cache or storage) for every test. Playwright's own browser
/// download is never used.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"{ExecutablePath} is missing: install it with `apt-get install -y chromium` (./test does).");
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args =
            [
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        });
    }

    /// <summary>A context of the test's own; dispose it at the end of the test.</summary>
    public Task<IBrowserContext> NewContextAsync() => Browser.NewContextAsync(new BrowserNewContextOptions
    {
        ViewportSize = new ViewportSize { Width = 1024, Height = 640 },
        Locale = "en-GB",
    });

    /// <summary>Saves a screenshot of the page under the test output folder and returns its path.</summary>
    public static async Task<string> ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "artifacts", "screenshots", name + ".png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.Current.TestOutputHelper?.WriteLine($"Screenshot: {path}");
        return path;
    }

    /// <summary>Writes the page's console messages and script errors to the test output, for diagnosis.</summary>
    public static void LogConsole(IPage page)
    {
        var output = TestContext.Current.TestOutputHelper;
        page.Console += (_, message) => output?.WriteLine($"[console.{message.Type}] {message.Text}");
        page.PageError += (_, error) => output?.WriteLine($"[page error] {error}");
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}
