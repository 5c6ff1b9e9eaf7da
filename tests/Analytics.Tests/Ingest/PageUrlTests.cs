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
    [InlineData("https://example.com/a%0Ab%00c%7F", "/a%0Ab%00c%7F")]
    [InlineData("https://example.com/tab%09here", "/tab%09here")]
    public void ControlCharactersStayEscapedInThePath(string url, string path)
    {
        Assert.True(PageUrl.TryNormalise(url, Site, 2048, out var normalised, out var error), error);
        Assert.Equal(path, normalised);
    }

    [Theory]
    [InlineData("http://example.com")]
    [InlineData("https://example.com:8443/a/b?x=1#y")]
    [InlineData("https://Sub.Example.COM/Mixed/Case/")]
    [InlineData("https://example.com/a;b=c/d:e@f!$&'()*+,")]
    [InlineData("https://example.com/a/./b/../c")]
    [InlineData("https://example.com/%7Euser/caf%C3%A9?q")]
    [InlineData("https://example.com/é/raw")]
    [InlineData("https://example.com/a b")]
    [InlineData("https://example.com/a\\b")]
    [InlineData("https://example.com/\"quoted\"/<x>")]
    [InlineData("HTTPS://EXAMPLE.COM/Upper")]
    [InlineData("https://example.com#frag")]
    [InlineData("https://example.com?only=query")]
    [InlineData(" https://example.com/padded ")]
    public void EveryUrlIsCountedUnderTheSamePathAsUriWouldGiveIt(string url)
    {
        var plain = new SiteEntry(new Site { Id = "demo", Domains = ["example.com"] });
        var uri = new Uri(url.Trim());

        Assert.True(PageUrl.TryNormalise(url, plain, 2048, out var path, out var error), error);
        Assert.Equal(Uri.UnescapeDataString(uri.AbsolutePath), path);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("ftp://example.com/")]
    [InlineData("data:text/html,hi")]
    [InlineData("//example.com/")]
    [InlineData("https://example.com.evil.net/")]
    [InlineData("https://badexample.com/")]
    [InlineData("https://example.com:99999/")]
    [InlineData("https://.example.com/x")]
    [InlineData("https://a..example.com/x")]
    [InlineData("https://-.example.com/x")]
    [InlineData("https://a-.example.com/x")]
    public void UrlThatIsNotThisSitesPageIsRefused(string? url)
    {
        Assert.False(PageUrl.TryNormalise(url, Site, 2048, out _, out var error));
        Assert.Contains("url", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TheUrlLimitIsInBytesAsSent()
    {
        const string Start = "https://example.com/";
        var ascii = Start + new string('a', 2048 - Start.Length);
        // 'ü' is two bytes in UTF-8: fewer characters than the limit, more bytes.
        var wide = Start + new string('ü', (2048 - Start.Length) / 2 + 1);

        Assert.True(PageUrl.TryNormalise(ascii, Site, 2048, out _, out var error), error);
        Assert.False(PageUrl.TryNormalise(ascii + "a", Site, 2048, out _, out error));
        Assert.Equal("url is longer than 2048 bytes.", error);
        Assert.True(wide.Length < 2048);
        Assert.False(PageUrl.TryNormalise(wide, Site, 2048, out _, out error));
        Assert.Equal("url is longer than 2048 bytes.", error);
        Assert.True(PageUrl.TryNormalise(Start + new string('ü', (2048 - Start.Length) / 2), Site, 2048, out _, out error), error);
    }

    [Theory]
    [InlineData("https://www.Google.com/search?q=x", "google.com")]
    [InlineData("android-app://com.slack/", "com.slack")]
    [InlineData("https://example.com/internal", "(direct)")]
    [InlineData("", "(direct)")]
    [InlineData("not a url", "(direct)")]
    public void ReferrerIsItsHost(string referrer, string host) => Assert.Equal(host, PageUrl.ReferrerHost(referrer, Site));

    [Theory]
    [InlineData("https://www.Google.com/search?q=x")]
    [InlineData("http://news.ycombinator.com")]
    [InlineData("https://t.co:443/x")]
    [InlineData("https://DuckDuckGo.com?q=a")]
    [InlineData("https://duckduckgo.com#top")]
    [InlineData("https://user@host.example/")]
    [InlineData("https://bücher.example/")]
    [InlineData("https://xn--bcher-kva.example/")]
    [InlineData("https://[2001:db8::1]/x")]
    [InlineData(" https://padded.example/ ")]
    public void EveryReferrerGetsTheHostUriWouldGiveIt(string referrer)
    {
        var host = new Uri(referrer.Trim()).IdnHost.ToLowerInvariant();

        Assert.Equal(host.StartsWith("www.", StringComparison.Ordinal) ? host[4..] : host, PageUrl.ReferrerHost(referrer, Site));
    }

    [Theory]
    [InlineData("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true)]
    [InlineData("Mozilla/5.0 (compatible; bingbot/2.0)", true)]
    [InlineData("facebookexternalhit/1.1", true)]
    [InlineData("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2)", true)]
    [InlineData("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0 Safari/537.36", false)]
    [InlineData("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1", false)]
    [InlineData("", false)]
    [InlineData("curl/8.5.0", false)]
    [InlineData("python-requests/2.32.3", false)]
    [InlineData("Go-http-client/1.1", false)]
    [InlineData("okhttp/4.12.0", false)]
    [InlineData("Apache-HttpClient/4.5.14 (Java/21)", false)]
    [InlineData("Scrapy/2.11.2 (+https://scrapy.org)", true)]
    [InlineData("Wget/1.21.2", true)]
    [InlineData("Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)", true)]
    [InlineData("GoogleOther", true)]
    public void KnownBotsAreRecognised(string userAgent, bool bot) => Assert.Equal(bot, BotFilter.IsBot(userAgent));
}
