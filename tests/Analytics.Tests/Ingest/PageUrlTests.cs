using Analytics.Ingest;
using Analytics.Sites;

namespace Analytics.Tests.Ingest;

public sealed class PageUrlTests
{
    private static readonly SiteEntry Site = new(new Site { Id = "demo", Domains = ["example.com"], QueryParameters = ["id", "page"] });

    [Theory]
    [InlineData("https://example.com/", "/")]
    [InlineData("https://EXAMPLE.COM/Path/Kept?utm_source=x#frag", "/Path/Kept")]
    [InlineData("http://www.example.com/a?page=2&id=7&x=1", "/a?page=2&id=7")]
    [InlineData("https://shop.example.com/%E2%82%AC/price", "/€/price")]
    [InlineData("https://example.com/a%2Cb?id=a%26b", "/a,b?id=a&b")]
    public void UrlIsCountedUnderItsNormalisedPath(string url, string path)
    {
        Assert.True(PageUrl.TryNormalise(url, Site, 2048, out var normalised, out var error), error);
        Assert.Equal(path, normalised);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("ftp://example.com/")]
    [InlineData("data:text/html,hi")]
    [InlineData("//example.com/")]
    [InlineData("https://example.com.evil.net/")]
    [InlineData("https://badexample.com/")]
    public void UrlThatIsNotThisSitesPageIsRefused(string? url)
    {
        Assert.False(PageUrl.TryNormalise(url, Site, 2048, out _, out var error));
        Assert.Contains("url", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://www.Google.com/search?q=x", "google.com")]
    [InlineData("android-app://com.slack/", "com.slack")]
    [InlineData("https://example.com/internal", "(direct)")]
    [InlineData("", "(direct)")]
    [InlineData("not a url", "(direct)")]
    public void ReferrerIsItsHost(string referrer, string host) => Assert.Equal(host, PageUrl.ReferrerHost(referrer, Site));

    [Theory]
    [InlineData("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true)]
    [InlineData("Mozilla/5.0 (compatible; bingbot/2.0)", true)]
    [InlineData("facebookexternalhit/1.1", true)]
    [InlineData("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)", true)]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0 Safari/537.36", false)]
    [InlineData("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1", false)]
    [InlineData("", false)]
    public void KnownBotsAreRecognised(string userAgent, bool bot) => Assert.Equal(bot, BotFilter.IsBot(userAgent));
}
