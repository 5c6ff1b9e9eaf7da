using System.Text;
using Analytics.Counting;

namespace Analytics.Tests.Counting;

/// <summary>The visitor hash: SipHash-2-4 as published, under a key only the day's salt gives.</summary>
public sealed class VisitorHashTests
{
    private static readonly byte[] ReferenceKey = [.. Enumerable.Range(0, 16).Select(i => (byte)i)];

    [Theory]
    // From the SipHash paper (appendix A) and its reference test vectors: key 00 01 … 0f, message 00 01 … (n-1).
    [InlineData(0, 0x726fdb47dd0e0e31UL)]
    [InlineData(1, 0x74f839c593dc67fdUL)]
    [InlineData(8, 0x93f5f5799a932462UL)]
    [InlineData(15, 0xa129ca6149be45e5UL)]
    public void SipHashMatchesThePublishedVectors(int length, ulong expected)
    {
        var message = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();

        Assert.Equal(expected, SipHash.FromKey(ReferenceKey).Hash(message));
    }

    [Fact]
    public void TheSameVisitorHashesAlikeOnlyUnderTheSameSaltSiteAndDay()
    {
        var salt = Encoding.UTF8.GetBytes("a salt of thirty-two bytes here!");
        var day = new DateOnly(2026, 11, 27);
        var key = VisitorHasher.Key(salt, "demo", day);
        var visitor = VisitorHasher.Hash(key, "203.0.113.7", "Firefox");

        Assert.Equal(visitor, VisitorHasher.Hash(VisitorHasher.Key(salt, "demo", day), "203.0.113.7", "Firefox"));
        Assert.NotEqual(visitor, VisitorHasher.Hash(key, "203.0.113.8", "Firefox"));
        Assert.NotEqual(visitor, VisitorHasher.Hash(key, "203.0.113.7", "Chrome"));
        Assert.NotEqual(visitor, VisitorHasher.Hash(VisitorHasher.Key(salt, "other", day), "203.0.113.7", "Firefox"));
        Assert.NotEqual(visitor, VisitorHasher.Hash(VisitorHasher.Key(salt, "demo", day.AddDays(1)), "203.0.113.7", "Firefox"));
        Assert.NotEqual(visitor, VisitorHasher.Hash(VisitorHasher.Key(Encoding.UTF8.GetBytes("another salt of thirty-two bytes"), "demo", day), "203.0.113.7", "Firefox"));
        // The separator keeps "ip + agent" splits apart.
        Assert.NotEqual(VisitorHasher.Hash(key, "1.2.3.4", "5"), VisitorHasher.Hash(key, "1.2.3.4" + "5", ""));
    }
}
