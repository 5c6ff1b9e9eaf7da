using Analytics.Ingest;
using Microsoft.AspNetCore.WebUtilities;

namespace Analytics.Tests.Ingest;

/// <summary>The pixel reads s, u and r off the raw query string: the same values the request's query collection gives.</summary>
public sealed class PixelQueryTests
{
    [Theory]
    [InlineData("?s=demo&u=https%3A%2F%2Fexample.com%2Fa%3Fx%3D1&r=https%3A%2F%2Fwww.google.com%2F")]
    [InlineData("?u=https://example.com/plain&s=demo")]
    [InlineData("?S=Demo&U=https%3a%2f%2fexample.com%2f&R=")]
    [InlineData("?s=demo&u=https%3A%2F%2Fexample.com%2Fcaf%C3%A9+menu&r=a+b%2Bc")]
    [InlineData("?s=demo&&u=&r")]
    [InlineData("?s=de%ZZmo&u=%")]
    [InlineData("?x=1&su=2&s=demo")]
    [InlineData("")]
    [InlineData("?")]
    public void GivesWhatTheQueryCollectionGives(string query)
    {
        var collection = QueryHelpers.ParseQuery(query);

        var (site, url, referrer) = PixelMiddleware.ReadQuery(query);

        Assert.Equal(collection.TryGetValue("s", out var s) ? s.ToString() : "", site);
        Assert.Equal(collection.TryGetValue("u", out var u) ? u.ToString() : "", url);
        Assert.Equal(collection.TryGetValue("r", out var r) ? r.ToString() : "", referrer);
    }

    [Fact]
    public void TheFirstOfARepeatedNameWins() =>
        Assert.Equal(("a", "", ""), PixelMiddleware.ReadQuery("?s=a&s=b"));
}
